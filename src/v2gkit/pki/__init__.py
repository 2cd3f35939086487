"""Certificates for V2G communication.

``v2gkit.pki.quick`` builds a throwaway ISO 15118 test PKI (V2G root, CPO and OEM chains) for tests and
demos; it is not meant for production keys.
"""
