"""Build the optional C decode accelerator; all metadata lives in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "vncwall.net.decoders._accel",
            sources=["vncwall/net/decoders/_accel.c"],
            extra_compile_args=["-O3"],
            # Without a compiler (or Python headers) the install still succeeds and the
            # decoders run their pure-Python paths.
            optional=True,
        )
    ]
)
