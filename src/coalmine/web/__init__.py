"""`coalmine dashboard`: the live web view of canaries, served on 127.0.0.1.

source     the Source protocol the pages read from, and TargetSource (any Target:
           a running `coalmine up` through its API, or a cluster)
runtime    RuntimeSource: inside `coalmine up`, straight from its store
auth       the token in the printed address, the session cookie, CSRF and Host checks
pages      the overview and the canary page as HTML (escaped; charts from coalmine.report)
live       one poller per server; server-sent events push re-rendered parts to pages
app        the aiohttp application and `serve`
"""
