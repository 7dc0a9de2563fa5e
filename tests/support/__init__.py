"""Test support shared by the test folders: running the Pulumi program under mocks."""
