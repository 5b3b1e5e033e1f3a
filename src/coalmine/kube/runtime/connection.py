"""Connecting to the cluster once, for both kr8s (the adapters) and kopf (the watches).

kr8s finds the credentials as kubectl does: `--kubeconfig`, else $KUBECONFIG, else
~/.kube/config, else the pod's service account; `--context` picks a context. kopf
then logs in with exactly what kr8s found (`kopf_credentials`), so the two never
disagree about the cluster. kopf calls its login handler again after a 401; the
handler re-reads the credentials then (a rotated service-account token, an expired
exec-plugin token).
"""

from __future__ import annotations

from typing import Any

from coalmine.errors import Unavailable
from coalmine.kube.adapters.client import KubeClient, RequestSettings
from coalmine.kube.runtime.settings import ClusterSettings

__all__ = ["close", "connect", "kopf_credentials"]


async def connect(settings: ClusterSettings) -> KubeClient:
    """A client for the cluster; raises Unavailable naming what was tried."""
    import kr8s.asyncio

    kubeconfig = str(settings.kubeconfig) if settings.kubeconfig else None
    try:
        api = await kr8s.asyncio.api(kubeconfig=kubeconfig, context=settings.context)
    except Exception as error:  # kr8s raises ValueError, OSError, httpx errors, KeyError
        where = settings.kubeconfig or "$KUBECONFIG, ~/.kube/config or the service account"
        context = f" (context {settings.context})" if settings.context else ""
        raise Unavailable(f"cannot connect to Kubernetes with {where}{context}: {error}") from None
    return KubeClient(api, RequestSettings(timeout=settings.request_timeout))


async def close(client: KubeClient) -> None:
    """Close the connections, once the requests still in flight have ended (within their
    timeout): coalmine's, and kr8s's own if it opened any (it has no public close; its
    httpx client is `_session`)."""
    await client.settle()
    await client.transport.close()
    await client.streams.close()
    session = getattr(client.api, "_session", None)
    if session is not None:
        await session.aclose()


async def kopf_credentials(client: KubeClient) -> Any:
    """A `kopf.ConnectionInfo` with the credentials kr8s uses, freshly re-read."""
    import kopf

    auth = client.api.auth
    await auth.reauthenticate()
    return kopf.ConnectionInfo(
        server=auth.server,
        ca_path=str(auth.server_ca_file) if auth.server_ca_file else None,
        insecure=bool(getattr(auth, "_insecure_skip_tls_verify", False)) or None,
        scheme="Bearer" if auth.token else None,
        token=auth.token,
        certificate_path=str(auth.client_cert_file) if auth.client_cert_file else None,
        private_key_path=str(auth.client_key_file) if auth.client_key_file else None,
        default_namespace=auth.namespace,
    )
