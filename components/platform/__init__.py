"""Platform settings the providers have no resource for: small dynamic resources on the Supabase and Vercel APIs."""
