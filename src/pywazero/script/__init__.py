"""Scripts over modules: the spec's WAST command language.

A script holds modules in both formats (text, quoted text and binary), so this
layer sits above :mod:`pywazero.binary` and :mod:`pywazero.text`.
"""
