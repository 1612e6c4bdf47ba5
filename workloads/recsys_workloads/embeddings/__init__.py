"""Pretrained multimodal item embeddings: Sentence-BERT text, CLIP images, PCA, content-hash cache.

Encoders (torch, sentence-transformers, transformers) are imported only when an encoder
runs; the reduced vectors are stored as NumPy files the serving venv reads.
"""
