"""chipwatch agent: what the GPU host's NVML says, signed and delivered without loss."""

__version__ = "0.1.0"
