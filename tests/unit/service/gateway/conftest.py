from gateway_testing import client_for, keys  # noqa: F401 (fixtures)
