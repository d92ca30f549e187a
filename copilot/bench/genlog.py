"""A seeded generator of a realistic incident log with secrets planted at a known rate.

The log mixes what people paste during an incident: ``kubectl get pods`` / ``describe`` /
``events``, JSON application logs (request ids, trace ids, UUIDs, numeric ids that are
sometimes Luhn-valid like card numbers), Java and Python stack traces, environment dumps,
nginx access lines, ``kubectl get secret -o yaml``, curl commands with headers. Every
secret is built from random characters in its documented format (no real credential is
copied); each planted one is returned with where it is, so a benchmark can check that it
is gone after redaction. The same seed always gives the same text.
"""

from __future__ import annotations

import base64
import json
import random
import string
from dataclasses import dataclass, field

from copilot.bench.genvalues import (
    B64,
    HEX,
    TOKENS,
    _ip,
    _jwt,
    _mixed,
    _numeric_id,
    _password,
    _pem,
    _pod,
    _s,
    _ts,
    _url_password,
    _uuid,
)

SERVICES = ("checkout", "payments", "cart", "search", "auth", "inventory", "shipping", "api")
NAMESPACES = ("prod", "shop", "platform", "payments")
HOSTS = ("db-primary.internal", "redis.cache.svc", "mq.internal", "pg.prod.svc")


@dataclass(frozen=True)
class Planted:
    """One planted item. ``secret`` must not survive redaction; ``start``/``end`` are the
    character span of the item a line scanner may flag (for a PEM block: the whole block,
    BEGIN and END lines included)."""

    kind: str
    secret: str
    start: int
    end: int
    pii: bool = False


@dataclass
class GeneratedLog:
    text: str
    planted: list[Planted] = field(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        """The planted secret strings (PII excluded)."""
        return [p.secret for p in self.planted if not p.pii]


_MARK = "@@PLANT@@"  # where a planted value goes in a line built first

_MESSAGES = (
    "request completed",
    "token refresh succeeded for client",
    "cache miss on key cart:{n}",
    "password reset e-mail queued",
    "upstream timed out after 3000ms",
    "retrying payment authorization attempt {n}",
    "disk pressure on node, evicting task",
    "session key rotated",
    "api-key validation passed",
    "slow query: SELECT * FROM orders WHERE id = {n}",
    "circuit breaker open for downstream payments",
    "connection pool exhausted (max=50)",
)
# section -> how often it is picked
_SECTIONS = {"app_json": 30, "nginx": 20, "stack_trace": 10, "curl": 10, "env_dump": 5}
_SECTIONS |= {"kubectl_pods": 6, "kubectl_describe": 6, "kubectl_events": 6, "pem": 1}
_SECTIONS |= {"secret_yaml": 3}


class _Gen:
    """Writes sections of log; remembers where planted values land."""

    def __init__(self, seed: int, secret_rate: float) -> None:
        self.rng, self.rate, self.i = random.Random(seed), secret_rate, 0
        self.w = self  # sections write through ``w.add`` / ``w.plant``
        self.parts: list[str] = []
        self.size = 0
        self.planted: list[Planted] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)

    def plant(
        self, kind: str, secret: str, before: str = "", after: str = "", pii: bool = False
    ) -> None:
        """Write ``before + secret + after``; the item spans all three."""
        start = self.size
        self.add(before + secret + after)
        self.planted.append(Planted(kind, secret, start, self.size, pii))

    def leak(self, scale: float = 1.0) -> bool:
        """Whether this slot holds a secret: ``rate`` for a log line, ``scale`` times it
        for a section that has one slot (an env dump, a secret manifest, a curl)."""
        return self.rng.random() < self.rate * scale

    def token(self) -> tuple[str, str]:
        kind = self.rng.choice(sorted(TOKENS))
        return kind, TOKENS[kind](self.rng)

    # each section writes a few lines
    def app_json(self) -> None:
        r, w = self.rng, self.w
        for _ in range(r.randint(3, 12)):
            self.i += 1
            rec: dict[str, object] = {
                "ts": _ts(r, self.i),
                "level": r.choice(("info", "info", "info", "warn", "error")),
                "service": r.choice(SERVICES),
                "msg": r.choice(_MESSAGES).format(n=r.randint(1, 99999)),
                "request_id": _s(r, HEX, 32),
                "trace_id": _numeric_id(r) if r.random() < 0.5 else _s(r, HEX, 32),
                "span_id": _s(r, HEX, 16),
                "order_id": _uuid(r),
                "latency_ms": r.randint(1, 5000),
            }
            email = r.random() < 0.02
            if email:
                rec["user"] = _MARK
            line = json.dumps(rec)
            if self.leak():
                kind, secret = self.token()
                line = line[:-1] + ', "headers": {"authorization": "Bearer ' + _MARK + '"}}'
            else:
                kind = secret = ""
            for part in line.split(_MARK)[:-1]:
                if email:
                    email = False
                    w.plant(
                        "email", f"{_s(r, string.ascii_lowercase, 6)}@example.com", part, pii=True
                    )
                else:
                    w.plant(kind, secret, part)
            w.add(line.rsplit(_MARK, 1)[-1] + "\n")

    def kubectl_pods(self) -> None:
        r, w = self.rng, self.w
        w.add("$ kubectl get pods -n prod\nNAME                                 READY   STATUS    ")
        w.add("RESTARTS   AGE\n")
        for _ in range(r.randint(4, 15)):
            status = r.choice(("Running", "Running", "CrashLoopBackOff", "Pending", "OOMKilled"))
            pod = _pod(r, r.choice(SERVICES))
            w.add(f"{pod:<36} 1/1     {status:<9} {r.randint(0, 40):<10} {r.randint(1, 90)}m\n")

    def kubectl_describe(self) -> None:
        r, w = self.rng, self.w
        svc = r.choice(SERVICES)
        w.add(
            f"$ kubectl describe pod {_pod(r, svc)} -n {r.choice(NAMESPACES)}\n"
            f"Node:         ip-{_ip(r).replace('.', '-')}.ec2.internal/{_ip(r)}\n"
            f"IP:           {_ip(r)}\nContainers:\n  {svc}:\n"
            f"    Container ID:   containerd://{_s(r, HEX, 64)}\n"
            f"    Image:          registry.example.com/{svc}:v1.{r.randint(0, 40)}.3\n"
            f"    Image ID:       registry.example.com/{svc}@sha256:{_s(r, HEX, 64)}\n"
            "    Environment:\n"
            f"      DB_HOST:            {r.choice(HOSTS)}\n"
            "      DB_PASSWORD:        <set to the key 'password' in secret "
            f"'{svc}-db'>  Optional: false\n"
        )
        if self.leak(4):
            w.plant("password-assignment", _password(r), "      REDIS_PASSWORD:     ", "\n")
        w.add(
            "Events:\n  Type     Reason     Age   From     Message\n"
            f"  Warning  BackOff    {r.randint(1, 59)}s   kubelet  Back-off restarting failed "
            "container\n"
        )

    def kubectl_events(self) -> None:
        r, w = self.rng, self.w
        w.add("$ kubectl get events --sort-by=.lastTimestamp\n")
        for _ in range(r.randint(3, 10)):
            reason = r.choice(("Unhealthy", "Killing", "Pulled", "FailedScheduling", "BackOff"))
            w.add(
                f"{r.randint(1, 59)}m  Warning  {reason}  pod/{_pod(r, r.choice(SERVICES))}  "
                f'Readiness probe failed: Get "http://{_ip(r)}:8080/healthz": context deadline '
                "exceeded\n"
            )

    def stack_trace(self) -> None:
        r, w = self.rng, self.w
        if r.random() < 0.5:
            w.add(
                f"{_ts(r, self.i)} ERROR [http-nio-8080-exec-{r.randint(1, 200)}] "
                "c.a.checkout.PaymentController - charge failed\n"
                "java.net.SocketTimeoutException: Read timed out\n"
            )
            for _ in range(r.randint(5, 20)):
                cls = r.choice(("PaymentService", "OrderRepository", "HttpClient", "TokenCache"))
                w.add(f"\tat com.acme.checkout.{cls}.call({cls}.java:{r.randint(10, 900)})\n")
            if self.leak(4):
                w.plant(
                    "url-credentials",
                    _url_password(r),
                    "Caused by: org.postgresql.util.PSQLException: connection to "
                    f"jdbc:postgresql://app_{r.randint(1, 9)}:",
                    f"@{r.choice(HOSTS)}:5432/orders refused\n",
                )
        else:
            w.add("Traceback (most recent call last):\n")
            for _ in range(r.randint(3, 10)):
                mod = r.choice(("handlers", "client", "retry", "models"))
                w.add(
                    f'  File "/app/{mod}.py", line {r.randint(1, 500)}, in run\n    return f(x)\n'
                )
            w.add(
                f"requests.exceptions.HTTPError: 503 Server Error for url: https://{r.choice(HOSTS)}/v1\n"
            )

    def env_dump(self) -> None:
        r, w = self.rng, self.w
        w.add("$ env | sort\n")
        rows = [
            f"HOSTNAME={_pod(r, r.choice(SERVICES))}",
            f"KUBERNETES_SERVICE_HOST={_ip(r)}",
            "LANG=C.UTF-8",
            f"LOG_LEVEL={r.choice(('info', 'debug'))}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "SECRET_NAME=checkout-db",
            "DB_PASSWORD_FILE=/var/run/secrets/db/password",
            f"CACHE_KEY_PREFIX=cart:{r.randint(1, 9)}",
            f"OTEL_EXPORTER_OTLP_ENDPOINT=http://{_ip(r)}:4317",
        ]
        r.shuffle(rows)
        for row in rows:
            w.add(row + "\n")
        if self.leak(8):
            choice = r.randrange(4)
            if choice == 0:
                w.plant(
                    "aws-access-key-id", TOKENS["aws-access-key-id"](r), "AWS_ACCESS_KEY_ID=", "\n"
                )
                w.plant("aws-secret-access-key", _mixed(r, B64, 40), "AWS_SECRET_ACCESS_KEY=", "\n")
            elif choice == 1:
                w.plant("password-assignment", _password(r), "DB_PASSWORD=", "\n")
            elif choice == 2:
                w.plant(
                    "url-credentials",
                    _url_password(r),
                    "DATABASE_URL=postgres://app:",
                    f"@{r.choice(HOSTS)}/app\n",
                )
            else:
                kind, secret = self.token()
                w.plant(kind, secret, f"{kind.upper().replace('-', '_')}=", "\n")

    def nginx(self) -> None:
        r, w = self.rng, self.w
        for _ in range(r.randint(5, 25)):
            path = r.choice(("/api/v1/cart", "/checkout", "/healthz", "/api/v1/orders/" + _uuid(r)))
            w.add(
                f"{_ip(r)} - - [27/Nov/2026:10:{r.randint(0, 59):02d}:{r.randint(10, 59)} +0000] "
                f'"{r.choice(("GET", "POST"))} {path} HTTP/1.1" {r.choice((200, 200, 502, 504))} '
                f'{r.randint(0, 90000)} "-" "okhttp/4.12.0" {r.random():.3f}\n'
            )

    def secret_yaml(self) -> None:
        r, w = self.rng, self.w
        svc = r.choice(SERVICES)
        w.add(
            f"$ kubectl get secret {svc}-db -o yaml\napiVersion: v1\ndata:\n"
            f"  username: {base64.b64encode(b'app').decode()}\n"
        )
        if self.leak(10):
            value = base64.b64encode(_password(r).encode()).decode()
            w.plant("kubernetes-secret-data", value, "  password: ", "\n")
        w.add(
            f"kind: Secret\nmetadata:\n  name: {svc}-db\n  namespace: prod\n"
            f"  uid: {_uuid(r)}\ntype: Opaque\n"
        )

    def curl(self) -> None:
        r, w = self.rng, self.w
        url = f"https://{r.choice(SERVICES)}.internal/api/v1/orders/{_numeric_id(r)}"
        if not self.leak(4):
            w.add(f"$ curl -sS -H 'Accept: application/json' -H 'X-Request-Id: {_uuid(r)}' {url}\n")
            return
        choice = r.randrange(3)
        if choice == 0:
            kind, secret = self.token()
            w.plant(kind, secret, "$ curl -sS -H 'Authorization: Bearer ", f"' {url}\n")
        elif choice == 1:
            w.plant("curl-user", _password(r), "$ curl -u deploy:", f" {url}\n")
        else:
            w.plant("jwt", _jwt(r), '$ curl -H "Authorization: Bearer ', f'" {url}\n')

    def pem(self) -> None:
        r, w = self.rng, self.w
        if not self.leak(10):
            w.add("$ ls /etc/tls\ntls.crt  tls.key\n")
            return
        begin, body, end = _pem(r)
        w.add(f"$ cat /etc/tls/{r.choice(('tls.key', 'id_rsa', 'signing.pem'))}\n")
        w.plant("private-key", body, begin, end + "\n")

    def section(self) -> None:
        getattr(self, self.rng.choices(list(_SECTIONS), list(_SECTIONS.values()))[0])()


def generate_log(size_bytes: int, seed: int = 0, secret_rate: float = 0.05) -> GeneratedLog:
    """About ``size_bytes`` characters of incident log (ASCII, so bytes = characters).

    ``secret_rate`` is the chance that a place where a secret could appear holds one.
    """
    g = _Gen(seed, secret_rate)
    while g.size < size_bytes:
        g.section()
    return GeneratedLog("".join(g.parts), g.planted)
