"""acbatch: YAML episode specs in git -> published podcasts via the audiocleaner.ai Podcast API."""

__version__ = "0.1.0"
