"""Run scim2-tester against a running tenantry server (issue 6).

Usage: check.py BASE_URL TOKEN

Every check of a feature our ServiceProviderConfig claims must not end in ERROR or
CRITICAL (decisions.md). Prints one line per check and a summary; exits 1 on failure.
"""

import socket
import sys

# Tenants live at {name}.localhost; browsers resolve *.localhost to loopback themselves
# (RFC 6761), glibc does not. Do the same here, for this process only.
_getaddrinfo = socket.getaddrinfo


def _loopback_localhost(host, *args, **kwargs):
    if isinstance(host, str) and host.endswith(".localhost"):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback_localhost

from httpx2 import Client  # noqa: E402
from scim2_client.engines.httpx2 import SyncSCIMClient  # noqa: E402
from scim2_tester import Status, check_server  # noqa: E402


def main() -> int:
    base, token = sys.argv[1], sys.argv[2]
    http = Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = SyncSCIMClient(http)
    results = check_server(client, raise_exceptions=False)
    failed = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    counts = {}
    for r in results:
        counts[r.status.name] = counts.get(r.status.name, 0) + 1
        mark = "FAIL" if r in failed else r.status.name
        print(f"{mark:10} {r.resource_type or '-':6} {r.title}: {r.reason or ''}"[:400])
    print("scim2-tester:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if failed:
        print(f"scim2-tester: {len(failed)} check(s) failed", file=sys.stderr)
        for r in failed:
            print(f"  {r.title}: {r.reason}\n    {str(r.data)[:600]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
