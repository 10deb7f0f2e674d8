"""Real local servers standing in for the providers: a Twilio Messages API with signed
status callbacks, aiosmtpd SMTP servers that accept or refuse, and Prism serving
Twilio's own OpenAPI description."""
