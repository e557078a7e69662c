"""The bundled search spaces (YAML) and the paper's found genome, shipped as package data."""
