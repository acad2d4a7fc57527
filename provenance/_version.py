"""The product version, written into every manifest's claim generator and shown by the CLIs."""

PRODUCT_NAME = "dirfa"
__version__ = "0.1.0"
