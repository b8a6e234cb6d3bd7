"""Prometheus metrics of one webhook server, in a registry of its own.

A registry per application (rather than prometheus_client's global one) lets tests and the benchmark
run several apps in one process and read exactly their own numbers. Label values that come from a
request are bounded (`BoundedLabel`) so that a client talking to the port directly cannot grow the
series without limit. No label or value ever carries object content.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from vsi_common.cli import package_version

NAMESPACE = "vsi_webhook"
"""Prefix of every metric name."""
REVIEW_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 10.0, 25.0)
"""The kube-apiserver's own admission-webhook latency buckets, seconds."""
MAX_LABEL_VALUES = 32
"""Distinct request-derived values a label keeps before the rest are counted as ``other``."""
OTHER = "other"
"""Label value for anything beyond `MAX_LABEL_VALUES`."""
CONTENT_TYPE = CONTENT_TYPE_LATEST
"""Content type of the text exposition format."""


class BoundedLabel:
    """Passes values through until `MAX_LABEL_VALUES` distinct ones were seen, then ``other``."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(value)
        return value


class WebhookMetrics:
    """Every metric the webhook exports; one instance per application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.review_seconds = Histogram(
            "review_duration_seconds",
            "Time from a parsed AdmissionReview to its response, seconds.",
            namespace=NAMESPACE,
            buckets=REVIEW_BUCKETS,
            registry=self.registry,
        )
        self.reviews = Counter(
            "reviews",
            "AdmissionReviews answered, by object kind, operation, outcome and reason.",
            ["kind", "operation", "outcome", "reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.insecure_mutations = Counter(
            "insecure_mutations",
            "Mutations by a profile whose connection.allowInsecure lets it use an http:// "
            "VAULT_ADDR or VAULT_SKIP_VERIFY, by profile.",
            ["profile"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.bad_requests = Counter(
            "bad_requests",
            "Requests refused without a review (4xx, 503), by reason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.certificate_expiry = Gauge(
            "certificate_expiry_timestamp_seconds",
            "NotAfter of the serving certificate in use, Unix seconds.",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.certificate_reloads = Counter(
            "certificate_reloads",
            "Changed certificate files loaded (result=success), refused (result=failure), or "
            "checks that did not finish in time (result=timeout).",
            ["result"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.config_reloads = Counter(
            "config_reloads",
            "Changed profile files loaded (result=success), refused (result=failure), or "
            "checks that did not finish in time (result=timeout).",
            ["result"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.config_last_reload_ok = Gauge(
            "config_last_reload_success",
            "1 when the profiles in use match the file, 0 when its last change was refused.",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.config_last_reload_ok.set(1)
        self._connection_metrics()
        self._kind = BoundedLabel()
        self._reason = BoundedLabel()
        self._bad_reason = BoundedLabel()
        self._profile = BoundedLabel()
        # Label lookups cost more than the increment; the combinations are few and bounded.
        self._review_children: dict[tuple[str, str, str, str], Counter] = {}

    def _connection_metrics(self) -> None:
        """What the connection and body budgets show (`webhook.server.budget`)."""
        self.connections = Gauge(
            "connections",
            "Connections open now, by listener (https, metrics).",
            ["listener"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "connections_refused",
            "Connections closed to keep the connection budget, by listener and reason: evicted "
            "(at the cap, the one silent longest makes room for a new one), handshake-timeout "
            "(no TLS handshake started within --tls-handshake-timeout).",
            ["listener", "reason"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.tls_standard_transport = Gauge(
            "tls_standard_transport",
            "1 when the HTTPS listener serves with asyncio's standard TLS transport because this "
            "Python's asyncio internals differ from what the lean TLS connections need (more "
            "memory per connection), 0 with the lean ones.",
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.build_info = Gauge(
            "build_info",
            "1, labelled with the version of vault-storage-injector this replica runs.",
            ["version"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.build_info.labels(package_version()).set(1)
        self.bodies_in_flight = Gauge(
            "body_bytes_in_flight",
            "Bytes reserved by request bodies that are still arriving.",
            namespace=NAMESPACE,
            registry=self.registry,
        )

    def review(
        self, *, kind: str, operation: str, outcome: str, reason: str, seconds: float
    ) -> None:
        """Count one answered review and its latency."""
        self.review_seconds.observe(seconds)
        key = (kind, operation, outcome, reason)
        child = self._review_children.get(key)
        if child is None:
            child = self.reviews.labels(self._kind(kind), operation, outcome, self._reason(reason))
            if len(self._review_children) < MAX_LABEL_VALUES * 8:
                self._review_children[key] = child
        child.inc()

    def insecure_mutation(self, profile: str) -> None:
        """Count one mutation by an insecure profile (profile names come from the config)."""
        self.insecure_mutations.labels(self._profile(profile)).inc()

    def bad_request(self, reason: str) -> None:
        """Count one refused request."""
        self.bad_requests.labels(self._bad_reason(reason)).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
