"""In-process fakes of services that cannot run here, faked at the network boundary."""
