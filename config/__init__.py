"""Settings and reference lists: the one place the platform is configured."""

from config.settings import KdfProfile, Settings, SettingsError, load_settings

__all__ = ["KdfProfile", "Settings", "SettingsError", "load_settings"]
