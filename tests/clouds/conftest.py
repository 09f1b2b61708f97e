from tests.orgs.conftest import gov_cast  # noqa: F401  (the same cast for the cloud tests)
