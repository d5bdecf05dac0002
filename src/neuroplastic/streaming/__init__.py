"""Streaming: online learning, anomaly detection and the NAB benchmark."""
