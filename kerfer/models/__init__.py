"""Model builders, registered by ``--arch`` name."""

from kerfer.models.registry import ArchSpec, build_model, get_arch, list_architectures, register

__all__ = ["ArchSpec", "build_model", "get_arch", "list_architectures", "register"]
