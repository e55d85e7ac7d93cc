"""acpo-bench: does your audio-visual LM really listen?"""

__version__ = "0.1.0"
