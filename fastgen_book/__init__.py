"""fastgen: the code behind the executable course book on fast generation with diffusion models."""

__version__ = "0.1.0"
