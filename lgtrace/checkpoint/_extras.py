"""The error raised when a saver module's optional extra is not installed."""

from __future__ import annotations


def missing_extra(module: str, extra: str, err: ImportError) -> ImportError:
    """An ImportError for ``module`` that names the extra to install (raise it ``from err``)."""
    return ImportError(
        f'{module} needs the {extra!r} extra ({err}); install it with: pip install "lgtrace[{extra}]"',
        name=module,
    )
