-- Databases next to Temporal's own (auto-setup creates `temporal` and `temporal_visibility`):
-- `grantflow` holds the request index, audit trail and favorites; `demo` is the example target.
CREATE USER grantflow WITH PASSWORD 'grantflow';
CREATE DATABASE grantflow OWNER grantflow;
CREATE DATABASE demo;
