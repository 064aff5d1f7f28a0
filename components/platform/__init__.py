"""Platform settings the providers have no resource for: small dynamic resources on the Supabase and Vercel APIs."""

from components.platform.supabase_project import SupabaseProject, SupabaseProjectArgs

__all__ = ["SupabaseProject", "SupabaseProjectArgs"]
