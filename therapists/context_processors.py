from functools import partial

from therapists.worklist import pending_count


def worklist_waiting(request):
    """``worklist_waiting``: the count of waiting work beside "Worklist" in the navigation
    (``pending_count``, which counts with ``messaging.pending``), None for anyone but a therapist.

    A callable, so the template runs it only where the navigation is shown (two queries). A page
    that counted the waiting work already (the worklist) passes its own ``worklist_waiting``,
    which shadows this one: then nothing is counted twice.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"worklist_waiting": partial(pending_count, fetched_by=user)}
