"""VoiceRelief: a hands-free, offline voice assistant for the first days of an acute back spasm."""

__version__ = "0.1.0"
