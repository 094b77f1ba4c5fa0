"""bec-core: an asyncio beamline experiment-control core speaking BEC 4.x's Redis protocol."""

__version__ = "0.1.0"
