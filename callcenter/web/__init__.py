"""The web pages: agent desktop, supervisor wallboard and QA, on the API's aiohttp process.

Server-rendered with Jinja2, a little dependency-free JavaScript, live updates over
Server-Sent Events. Sign-in with signed HttpOnly SameSite cookies, CSRF tokens on every form,
optional TOTP, lock-out and a per-address sign-in rate limit.
"""
