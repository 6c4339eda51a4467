from tests.sandbox.fixtures import bubblewrap, nothing_left_behind

__all__ = ["bubblewrap", "nothing_left_behind"]
