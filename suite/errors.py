"""Errors the command line turns into one line on stderr and an exit code."""


class SuiteError(Exception):
    """A failure the user can act on: printed as one line, exit code 1."""

    exit_code = 1


class UsageError(SuiteError):
    """The command was asked for something invalid: exit code 2."""

    exit_code = 2


class DataError(SuiteError):
    """A dataset could not be found, fetched or parsed."""


class DeclarationError(SuiteError):
    """An ablation's declaration is invalid; the message names the ablation and the field."""
