"""Parsing hostile input within bounds: YAML (no aliases, tags or deep nesting),
SVG and raster images (type sniffed from the bytes), and credentials found in
any text a repo holds."""
