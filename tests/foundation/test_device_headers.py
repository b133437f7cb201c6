"""What a device's headers say about it (shared/device.py)."""

from __future__ import annotations

from shared.device import device_architecture, device_series

BOTH = {"Snap-Device-Architecture": "amd64", "x-ubuntu-architecture": "arm64"}


def test_each_path_reads_its_own_names_first() -> None:
    assert device_architecture(BOTH) == "amd64"
    assert device_architecture(BOTH, v1_path=True) == "arm64"


def test_either_name_will_do() -> None:
    assert device_architecture({"X-Ubuntu-Architecture": "riscv64"}) == "riscv64"
    assert device_series({"snap-device-series": "16"}, v1_path=True) == "16"


def test_no_architecture_is_none_never_a_default() -> None:
    assert device_architecture({"Snap-Device-Architecture": ""}) is None
    assert device_architecture({}, v1_path=True) is None
