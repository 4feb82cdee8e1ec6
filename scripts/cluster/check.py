"""The cluster's pass/fail checks (scripts/cluster.sh check): what must hold when every function
runs as several instances on one PostgreSQL and Redis. Each request names the instance it goes
to (or nginx), so "another instance" is never left to the balancer's luck. The cluster runs
with RATE_LIMIT_LOGIN=5/15minute and RATE_LIMIT_GENERAL=30/15minute, and trusts one proxy hop:
a request straight to an instance says which address it is from in X-Forwarded-For, as nginx
would.

    python3 check.py http://127.0.0.1:PORT instances.json DATABASE_URL
"""

import json
import subprocess
import sys
import urllib.error
import urllib.request

LOGIN_LIMIT = 5
GENERAL_LIMIT = 30
PASSWORD = "cluster password"
# A read of one's own for each function the checks sign in to.
READ = {"users": "/api/v1/users/me", "emotions": "/api/v1/emotions?limit=1",
        "community": "/api/v1/community/posts?limit=1", "notifications": "/api/v1/notifications?limit=1"}


class Cluster:
    def __init__(self, base, instances):
        self.base = base
        self.instances = instances

    def ports(self, function):
        return self.instances[function]

    def call(self, where, method, path, body=None, token=None, address="192.0.2.1"):
        """(status, JSON body) of a request to an instance's port, or to nginx when `where` is
        None (nginx adds the address itself)."""
        url = (self.base if where is None else f"http://127.0.0.1:{where}") + path
        headers = {"content-type": "application/json", "accept-language": "en"}
        if where is not None:
            headers["x-forwarded-for"] = address
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


failures = []


def expect(what, condition, detail=""):
    print(("ok    " if condition else "FAIL  ") + what + (f" ({detail})" if detail and not condition else ""))
    if not condition:
        failures.append(what)


def register(cluster, name, address):
    status, body = cluster.call(
        cluster.ports("auth")[0], "POST", "/api/v1/auth/register",
        {"email": f"{name}@example.com", "password": PASSWORD, "nickname": name}, address=address)
    assert status == 201, f"registering {name}: {status} {body}"
    return body["data"]["user"]["id"], body["data"]["tokens"]


def every(cluster, functions):
    return [(f, port) for f in functions for port in cluster.ports(f)]


def limits_are_global(cluster):
    auth = cluster.ports("auth")
    register(cluster, "limited", "198.51.100.1")
    statuses = [
        cluster.call(auth[i % len(auth)], "POST", "/api/v1/auth/login",
                     {"email": "limited@example.com", "password": "not the password"},
                     address="198.51.100.1")[0]
        for i in range(2 * LOGIN_LIMIT)
    ]
    expect(f"{len(auth)} auth instances let exactly {LOGIN_LIMIT} logins through",
           statuses == [401] * LOGIN_LIMIT + [429] * LOGIN_LIMIT, statuses)

    _, tokens = register(cluster, "busy", "198.51.100.2")
    spread = [(port, READ[f]) for f, port in every(cluster, ["users", "emotions", "notifications"])]
    statuses = [
        cluster.call(spread[i % len(spread)][0], "GET", spread[i % len(spread)][1],
                     token=tokens["access_token"], address="198.51.100.2")[0]
        for i in range(GENERAL_LIMIT + 10)
    ]
    expect(f"{len(spread)} instances of three functions let exactly {GENERAL_LIMIT} of a person's requests through",
           statuses == [200] * GENERAL_LIMIT + [429] * 10, statuses)


def logout_is_everywhere_at_once(cluster):
    _, tokens = register(cluster, "leaving", "198.51.100.3")
    readers = every(cluster, ["users", "emotions", "community"])
    before = [cluster.call(port, "GET", READ[f], token=tokens["access_token"])[0] for f, port in readers]
    expect("a signed-in person is served by every instance", before == [200] * len(readers), before)
    auth = cluster.ports("auth")
    status, _ = cluster.call(auth[0], "POST", "/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]})
    expect("logout through the first auth instance", status == 200, status)
    after = [cluster.call(port, "GET", READ[f], token=tokens["access_token"])[0] for f, port in readers]
    expect("the very next request to every other instance is refused (401)", after == [401] * len(readers), after)
    refreshed = [cluster.call(port, "POST", "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})[0]
                 for port in auth]
    expect("its refresh token is refused by every auth instance", refreshed == [401] * len(auth), refreshed)


def suspension_is_everywhere_at_once(cluster, database_url):
    admin_id, _ = register(cluster, "moderator", "198.51.100.4")
    subprocess.run(["psql", "-q", database_url, "-c", f"UPDATE users SET role = 'admin' WHERE id = '{admin_id}'"],
                   check=True, stdout=subprocess.DEVNULL)
    _, body = cluster.call(None, "POST", "/api/v1/auth/login", {"email": "moderator@example.com", "password": PASSWORD})
    admin = body["data"]["tokens"]["access_token"]
    person, tokens = register(cluster, "suspended", "198.51.100.5")
    readers = every(cluster, ["users"])
    before = [cluster.call(port, "GET", "/api/v1/users/me", token=tokens["access_token"])[0] for _, port in readers]
    expect("the person is served by every users instance", before == [200] * len(readers), before)
    status, body = cluster.call(cluster.ports("admin")[-1], "PATCH", f"/api/v1/admin/users/{person}/suspend",
                                {"suspended": True, "reason": "cluster check"}, token=admin)
    expect("an admin suspends them through the last admin instance", status == 200, (status, body))
    after = [cluster.call(port, "GET", READ[f], token=tokens["access_token"])
             for f, port in every(cluster, ["users", "emotions"])]
    codes = [(status, (body or {}).get("error", {}).get("code")) for status, body in after]
    expect("their token is refused by every instance at once (403 ACCOUNT_SUSPENDED)",
           all(c == (403, "ACCOUNT_SUSPENDED") for c in codes), codes)
    logins = [cluster.call(port, "POST", "/api/v1/auth/login", {"email": "suspended@example.com", "password": PASSWORD},
                           address="198.51.100.6")[0] for port in cluster.ports("auth")]
    expect("and so is their login, by every auth instance", logins == [403] * len(logins), logins)


def writes_are_read_everywhere(cluster):
    _, tokens = register(cluster, "writer", "198.51.100.7")
    token = tokens["access_token"]
    emotions = cluster.ports("emotions")
    total = lambda port: cluster.call(port, "GET", "/api/v1/emotions/stats", token=token)[1]["data"]["total"]
    cached = total(emotions[-1])
    status, body = cluster.call(emotions[0], "POST", "/api/v1/emotions",
                                {"emotion": "calm", "intensity": 3, "note": "cluster"}, token=token)
    expect("a log written through the first emotions instance", status == 201, status)
    log_id = body["data"]["id"]
    reads = [cluster.call(port, "GET", f"/api/v1/emotions/{log_id}", token=token) for port in emotions]
    expect("is read through every emotions instance",
           all(s == 200 and b["data"]["note"] == "cluster" for s, b in reads), [s for s, _ in reads])
    expect("and the last instance's cached stats count it at once", total(emotions[-1]) == cached + 1,
           (cached, total(emotions[-1])))

    users = cluster.ports("users")
    status, _ = cluster.call(users[0], "PATCH", "/api/v1/users/me", {"nickname": "renamed"}, token=token)
    names = [cluster.call(port, "GET", "/api/v1/users/me", token=token)[1]["data"]["nickname"] for port in users]
    expect("a new nickname through the first users instance is read through every one",
           status == 200 and names == ["renamed"] * len(users), (status, names))

    community = cluster.ports("community")
    status, body = cluster.call(community[0], "POST", "/api/v1/community/posts",
                                {"title": "cluster", "content": "one instance", "category": "daily"}, token=token)
    post = body["data"]["id"] if status == 201 else None
    seen = [cluster.call(port, "GET", f"/api/v1/community/posts/{post}", token=token)[0] for port in community]
    expect("a post written through one community instance is read through every one",
           status == 201 and seen == [200] * len(community), (status, seen))
    status, body = cluster.call(None, "GET", "/api/v1/emotions?limit=5", token=token)
    expect("and nginx routes by the production URL map", status == 200 and body["data"]["items"][0]["id"] == log_id, status)
    status, body = cluster.call(None, "GET", "/api/v1/nowhere")
    expect("an unmapped path is the envelope's 404",
           status == 404 and body["error"]["code"] == "NOT_FOUND", (status, body))


def main():
    base, instances_file, database_url = sys.argv[1:]
    with open(instances_file) as f:
        cluster = Cluster(base, json.load(f))
    assert all(len(ports) >= 2 for ports in cluster.instances.values()), "the checks need N >= 2"
    limits_are_global(cluster)
    logout_is_everywhere_at_once(cluster)
    suspension_is_everywhere_at_once(cluster, database_url)
    writes_are_read_everywhere(cluster)
    if failures:
        sys.exit(f"{len(failures)} check(s) failed")
    print("every check passed")


if __name__ == "__main__":
    main()
