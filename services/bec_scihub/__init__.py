"""bec-core's SciHub: service requests, ACL login info, logbook delivery and notification routing."""
