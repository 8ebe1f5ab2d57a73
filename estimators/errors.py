"""The one exception type for bad user input; the CLI turns it into one line and exit code 2."""


class PlanInputError(ValueError):
    """Input a user can fix: an unknown GPU, a layout that does not multiply out, a bad frame count."""
