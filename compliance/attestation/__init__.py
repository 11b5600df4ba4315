"""Verified GPU attestation: NVIDIA SPDM evidence checked offline against pinned roots (docs/attestation.md)."""
