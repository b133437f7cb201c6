"""Reading a running proxy's ``/metrics`` (the Prometheus text format, parsed by
prometheus-client's own parser)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


@dataclass(frozen=True)
class Scrape:
    samples: list[Sample]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels``."""
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def names(self) -> set[str]:
        return {sample.name for sample in self.samples}

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}

    def __add__(self, other: Scrape) -> Scrape:
        return Scrape(self.samples + other.samples)


def scrape(base_url: str) -> Scrape:
    """``GET /metrics`` at ``base_url`` (a service's own address, or the embedded default's
    metrics listener); fails the test unless it is a 200 in the text format."""
    response = httpx.get(f"{base_url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    samples = [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]
    return Scrape(samples)


def scrape_all(urls: dict[str, str]) -> Scrape:
    """Every service's scrape together (the split topology)."""
    total = Scrape([])
    for url in urls.values():
        total = total + scrape(url)
    return total
