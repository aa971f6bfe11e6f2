//! RFC 8628, the OAuth device authorization grant, on login requests.
