"""MNIST Studio: four encoder–decoder models that read digits people draw.

The public entry point is :func:`predict`; everything else lives in submodules
(``preprocess``, ``compose``, ``data``, ``models``, ``inference``).
"""

__all__ = ["predict"]


def predict(image, **kwargs):
    """Run every model on ``image`` and return a JSON-serialisable dict.

    Imported lazily so that ``import mnist_demo`` stays cheap (no torch import).
    See :func:`mnist_demo.inference.predict` for the contract.
    """
    from mnist_demo.inference import predict as _predict

    return _predict(image, **kwargs)
