"""Fingerprint stage: perceptual hashes of images and Chromaprint fingerprints of audio."""
