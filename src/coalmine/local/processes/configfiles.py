"""A replica's ConfigMap and Secret volumes, as files in a directory of its own.

A local process cannot mount anything, so each volume the container mounts
(`volumeMounts[].name`) is written, when the process starts, to
`<state-dir>/volumes/<namespace>/<deployment>/<replica>/<volume>/` (directories 0700,
files 0600: only the user running `coalmine up`, which is the process's user, can read
them), and the process is told where through the environment variable
`VOLUME_<NAME>` (the volume's name in upper case, other characters than letters and
digits as `_`). `mountPath` is recorded, not used. Every key is a file of its name, or
with `items` the keys listed at their `path`. A missing object or key that is not
`optional` keeps the replica from starting (`CreateContainerConfigError`), as for
`env`. The files are rewritten at every start of the process (not updated while it
runs, unlike a kubelet's mount) and removed when the replica stops.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from coalmine.api.workloads import ConfigMapVolume, KeyToPath, PodSpec, SecretVolume, Volume
from coalmine.local.processes.configenv import ConfigLookup, ConfigMissing

__all__ = ["remove_volumes", "volume_env_name", "write_volumes"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def volume_env_name(volume: str) -> str:
    """`config-files` -> `VOLUME_CONFIG_FILES`."""
    return "VOLUME_" + re.sub(r"[^A-Za-z0-9]", "_", volume).upper()


def write_volumes(
    spec: PodSpec, namespace: str, lookup: ConfigLookup, directory: Path
) -> dict[str, str]:
    """Write the mounted volumes' files under `directory` (emptied first); returns the
    `VOLUME_<NAME>` variables. Reads everything before writing anything."""
    mounted = {mount.name for mount in spec.containers[0].volume_mounts}
    contents = {
        volume.name: _files(volume, namespace, lookup)
        for volume in spec.volumes
        if volume.name in mounted
    }
    remove_volumes(directory)
    if not contents:
        return {}
    _private_dirs(directory)
    env = {}
    for name, files in contents.items():
        root = directory / name
        _private_dirs(root)
        for path, content in files.items():
            _write(root / path, content)
        env[volume_env_name(name)] = str(root)
    return env


def remove_volumes(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def _files(volume: Volume, namespace: str, lookup: ConfigLookup) -> dict[str, bytes]:
    sources: list[tuple[str, str, list[KeyToPath] | None, bool]] = []
    if volume.config_map is not None:
        sources.append(_source("ConfigMap", volume.config_map))
    if volume.secret is not None:
        sources.append(_source("Secret", volume.secret))
    for projected in volume.projected.sources if volume.projected is not None else []:
        if projected.config_map is not None:
            sources.append(_source("ConfigMap", projected.config_map))
        if projected.secret is not None:
            sources.append(_source("Secret", projected.secret))
    files: dict[str, bytes] = {}
    for kind, name, items, optional in sources:
        what = f"{kind.lower()} {name!r}"
        content = lookup(kind, namespace, name)
        if content is None:
            if optional:
                continue
            raise ConfigMissing(f"{what} not found (volume {volume.name})")
        if items is None:
            files.update(content)
            continue
        for item in items:
            if item.key in content:
                files[item.path] = content[item.key]
            elif not optional:
                raise ConfigMissing(f"key {item.key!r} not in {what} (volume {volume.name})")
    return files


def _source(
    kind: str, source: ConfigMapVolume | SecretVolume
) -> tuple[str, str, list[KeyToPath] | None, bool]:
    name = source.secret_name if isinstance(source, SecretVolume) else source.name
    return kind, name, source.items, bool(source.optional)


def _private_dirs(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    path.chmod(PRIVATE_DIR)


def _write(path: Path, content: bytes) -> None:
    _private_dirs(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
