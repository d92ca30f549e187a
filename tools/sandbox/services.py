"""The sandbox's services: how each one behaves (traffic, capacity, resources, config,
flags, failure modes). Code, not state: the world records what changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class FlagProfile:
    """A feature flag's default and what it costs when enabled."""

    default: bool
    description: str
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    load: float = 0.0  # extra CPU utilisation, as a fraction of capacity
    error_rate: float = 0.0
    # What its code path throws when a broken build of it is switched on (the bad_flag
    # fault); empty: the flag has no such failure in the sandbox.
    failure: str = ""


@dataclass(frozen=True)
class ServiceProfile:
    """One service's traffic, capacity, resources, config and failure modes."""

    name: str
    owner: str
    lang: str
    version: str  # major.minor of the image; patch comes from the revision
    replicas: int
    base_rps: float
    rps_per_replica: float
    p50_ms: float
    p99_ms: float
    memory_mb: float
    memory_limit_mb: float
    cost_per_replica_hour: float
    config: Mapping[str, str]
    required_config: tuple[str, ...]
    config_rename: tuple[str, str]  # the key a crash-loop deploy renames, and its new name
    flags: Mapping[str, FlagProfile]
    endpoints: tuple[str, ...]
    defect_endpoint: str
    defect: str  # the exception a bad build throws on its hot path
    defect_change: str
    leak_change: str
    reads_replica: bool = False
    db_client: bool = False
    domain: str | None = None
    # Services this one calls, with the share of its requests that depend on each.
    upstreams: tuple[tuple[str, float], ...] = ()


CRASH_TEMPLATES = {
    "java": (
        'Exception in thread "main" java.lang.IllegalStateException: '
        "missing required config key {key}"
    ),
    "go": "panic: missing required config key {key}",
    "python": "RuntimeError: missing required config key {key}",
    "node": "Error: missing required config key {key}",
}

SERVICES: dict[str, ServiceProfile] = {
    p.name: p
    for p in (
        ServiceProfile(
            name="checkout",
            owner="team-checkout",
            lang="java",
            version="1.8",
            replicas=6,
            base_rps=240,
            rps_per_replica=60,
            p50_ms=42,
            p99_ms=210,
            memory_mb=640,
            memory_limit_mb=1024,
            cost_per_replica_hour=0.21,
            config={
                "PAYMENTS_API_URL": "http://payments.prod.svc.cluster.local:8080",
                "INVENTORY_API_URL": "http://inventory.prod.svc.cluster.local:8080",
                "DB_URL": "postgres://orders-db-primary.prod.svc:5432/orders",
                "DB_PASSWORD": "secret:orders-db-password",
                "DB_POOL_SIZE": "20",
                "HTTP_TIMEOUT_MS": "2500",
            },
            required_config=("PAYMENTS_API_URL", "INVENTORY_API_URL", "DB_URL"),
            config_rename=("PAYMENTS_API_URL", "PAYMENTS_BASE_URL"),
            flags={
                "express_checkout": FlagProfile(True, "one-click checkout for saved cards"),
                "new_tax_engine": FlagProfile(
                    False,
                    "tax quotes from the new engine",
                    35,
                    180,
                    0.05,
                    0.006,
                    failure="com.shop.tax.TaxQuoteException: no rate for region EU-OSS "
                    "at com.shop.tax.NewTaxEngine.quote(NewTaxEngine.java:77)",
                ),
            },
            endpoints=(
                "GET /api/v1/cart",
                "POST /api/v1/cart/items",
                "POST /api/v1/checkout",
                "GET /api/v1/orders/88123",
            ),
            defect_endpoint="POST /api/v1/checkout",
            defect=(
                'java.lang.NullPointerException: Cannot invoke "PaymentMethod.token()" because '
                '"method" is null at com.shop.checkout.PaymentClient.charge(PaymentClient.java:118)'
            ),
            defect_change="refactor PaymentClient to reuse saved payment methods",
            leak_change="cache tax quotes per cart in memory",
            db_client=True,
            domain="api.shop.example.com",
            upstreams=(("payments", 0.2), ("inventory", 0.3), ("orders", 0.25)),
        ),
        ServiceProfile(
            name="payments",
            owner="team-payments",
            lang="go",
            version="3.4",
            replicas=4,
            base_rps=80,
            rps_per_replica=35,
            p50_ms=95,
            p99_ms=620,
            memory_mb=180,
            memory_limit_mb=512,
            cost_per_replica_hour=0.16,
            config={
                "PSP_API_URL": "https://api.psp.example.net/v2",
                "PSP_API_KEY": "secret:payments-psp-key",
                "LEDGER_DB_URL": "postgres://orders-db-primary.prod.svc:5432/ledger",
                "DB_PASSWORD": "secret:orders-db-password",
                "PSP_TIMEOUT_MS": "4000",
            },
            required_config=("PSP_API_URL", "LEDGER_DB_URL", "PSP_API_KEY"),
            config_rename=("PSP_API_URL", "PSP_BASE_URL"),
            flags={
                "three_ds_v2": FlagProfile(True, "3-D Secure 2 challenge flow"),
                "retry_soft_declines": FlagProfile(
                    False,
                    "retry soft declines once",
                    0,
                    400,
                    0.05,
                    0.0,
                    failure="psp: duplicate charge rejected (idempotency key reused on retry)",
                ),
            },
            endpoints=("POST /v1/charges", "POST /v1/refunds", "GET /v1/charges/ch_31Hk"),
            defect_endpoint="POST /v1/charges",
            defect=(
                "recovered panic: runtime error: invalid memory address or nil pointer "
                "dereference at ledger.(*Writer).Post (writer.go:212)"
            ),
            defect_change="batch ledger writes per merchant",
            leak_change="keep PSP idempotency keys in a process-local map",
            db_client=True,
            domain="payments.shop.example.com",
        ),
        ServiceProfile(
            name="search",
            owner="team-search",
            lang="python",
            version="2.11",
            replicas=5,
            base_rps=300,
            rps_per_replica=90,
            p50_ms=28,
            p99_ms=160,
            memory_mb=900,
            memory_limit_mb=2048,
            cost_per_replica_hour=0.24,
            config={
                "INDEX_URL": "http://opensearch.prod.svc:9200",
                "INDEX_NAME": "products-v7",
                "INDEX_TOKEN": "secret:search-index-token",
                "WORKERS": "4",
            },
            required_config=("INDEX_URL", "INDEX_NAME"),
            config_rename=("INDEX_URL", "OPENSEARCH_URL"),
            flags={
                "semantic_ranking": FlagProfile(
                    False,
                    "re-rank results with the embedding model",
                    25,
                    140,
                    0.25,
                    0.0,
                    failure="TimeoutError: embedding service did not answer in 800 ms "
                    "at reranker.embed (reranker.py:41)",
                ),
                "typo_tolerance": FlagProfile(True, "fuzzy matching of query terms"),
            },
            endpoints=("GET /search?q=shoes", "GET /search/suggest?q=sh", "GET /search?q=boots"),
            defect_endpoint="GET /search?q=red+dress",
            defect=(
                "TypeError: 'NoneType' object is not subscriptable at ranker.score (ranker.py:64)"
            ),
            defect_change="boost in-stock items in ranking",
            leak_change="memoise facet counts per query",
        ),
        ServiceProfile(
            name="frontend",
            owner="team-web",
            lang="node",
            version="5.2",
            replicas=8,
            base_rps=520,
            rps_per_replica=95,
            p50_ms=60,
            p99_ms=340,
            memory_mb=310,
            memory_limit_mb=768,
            cost_per_replica_hour=0.12,
            config={
                "CHECKOUT_API_URL": "https://api.shop.example.com",
                "SEARCH_API_URL": "http://search.prod.svc.cluster.local:8000",
                "CDN_URL": "https://cdn.shop.example.com",
                "SESSION_KEY": "secret:session-signing-key",
            },
            required_config=("SEARCH_API_URL", "CHECKOUT_API_URL", "SESSION_KEY"),
            config_rename=("SEARCH_API_URL", "SEARCH_URL"),
            flags={
                "new_homepage": FlagProfile(
                    False,
                    "redesigned homepage (server-side rendered)",
                    15,
                    220,
                    0.1,
                    0.002,
                    failure="TypeError: Cannot read properties of null (reading 'hero') "
                    "at renderHome (home.js:23:9)",
                ),
                "recommendations": FlagProfile(True, "recommendations carousel", 0, 40),
            },
            endpoints=("GET /", "GET /product/8812", "GET /search?q=boots", "GET /category/shoes"),
            defect_endpoint="GET /cart",
            defect="TypeError: Cannot read properties of undefined (reading 'price') "
            "at renderCart (cart.js:88:31)",
            defect_change="show per-item discounts in the cart",
            leak_change="cache rendered product cards per session",
            domain="shop.example.com",
            upstreams=(("checkout", 0.12), ("search", 0.25)),
        ),
        ServiceProfile(
            name="inventory",
            owner="team-fulfilment",
            lang="go",
            version="2.3",
            replicas=3,
            base_rps=140,
            rps_per_replica=70,
            p50_ms=12,
            p99_ms=75,
            memory_mb=120,
            memory_limit_mb=384,
            cost_per_replica_hour=0.09,
            config={
                "DB_URL": "postgres://orders-db-replica.prod.svc:5432/inventory",
                "DB_WRITE_URL": "postgres://orders-db-primary.prod.svc:5432/inventory",
                "DB_PASSWORD": "secret:orders-db-password",
                "RESERVATION_TTL_S": "900",
            },
            required_config=("DB_WRITE_URL", "DB_URL"),
            config_rename=("DB_WRITE_URL", "DB_PRIMARY_URL"),
            flags={
                "bulk_reserve": FlagProfile(True, "reserve all cart lines in one transaction"),
                "reservation_ttl_v2": FlagProfile(
                    False,
                    "adaptive reservation expiry",
                    4,
                    30,
                    0.05,
                    0.003,
                    failure="recovered panic: negative reservation ttl at stock.(*TTL).Next "
                    "(ttl.go:31)",
                ),
            },
            endpoints=("GET /v1/stock/8812", "POST /v1/reservations", "GET /v1/stock/1207"),
            defect_endpoint="POST /v1/reservations",
            defect=(
                "recovered panic: runtime error: index out of range [3] with length 3 "
                "at stock.(*Ledger).Reserve (reserve.go:57)"
            ),
            defect_change="reserve stock per warehouse",
            leak_change="track reservations per SKU for metrics",
            reads_replica=True,
            db_client=True,
        ),
        ServiceProfile(
            name="orders",
            owner="team-orders",
            lang="go",
            version="4.1",
            replicas=3,
            base_rps=110,
            rps_per_replica=60,
            p50_ms=18,
            p99_ms=90,
            memory_mb=220,
            memory_limit_mb=512,
            cost_per_replica_hour=0.11,
            config={
                "DB_READ_URL": "postgres://orders-db-replica.prod.svc:5432/orders",
                "DB_WRITE_URL": "postgres://orders-db-primary.prod.svc:5432/orders",
                "DB_PASSWORD": "secret:orders-db-password",
                # past this lag, reads go to the primary (whose pool is sized for writes)
                "REPLICA_MAX_STALENESS_S": "600",
            },
            required_config=("DB_READ_URL", "DB_WRITE_URL"),
            config_rename=("DB_READ_URL", "DB_REPLICA_URL"),
            flags={
                "split_shipments": FlagProfile(True, "ship an order's lines from several sites"),
                "order_history_v2": FlagProfile(
                    False,
                    "paginated order history",
                    5,
                    40,
                    0.04,
                    0.002,
                    failure="recovered panic: cursor out of range at history.(*Pager).Next "
                    "(pager.go:88)",
                ),
            },
            endpoints=("GET /v1/orders/88123", "GET /v1/orders?customer=c-5521", "POST /v1/orders"),
            defect_endpoint="POST /v1/orders",
            defect=(
                "recovered panic: assignment to entry in nil map at orders.(*Order).AddLine "
                "(order.go:142)"
            ),
            defect_change="split orders per warehouse",
            leak_change="cache order summaries per customer",
            reads_replica=True,
            db_client=True,
        ),
    )
}
