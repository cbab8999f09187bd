-- Databases next to Temporal's own (auto-setup creates `temporal` and `temporal_visibility`):
-- `grantflow` holds the request index, audit trail and favorites; `demo` is the example target.
CREATE USER grantflow WITH PASSWORD 'grantflow';
CREATE DATABASE grantflow OWNER grantflow;
REVOKE CONNECT, TEMPORARY ON DATABASE grantflow FROM PUBLIC;

-- The demo integration's admin (DEMO_PG_DSN): not a superuser. CREATEROLE lets it create, alter and drop
-- the short-lived request roles (PostgreSQL 16+ gives it ADMIN OPTION on the roles it creates, and grantflow
-- grants itself their privileges to end their sessions and drop what they own); owning the `demo` database
-- and everything in it gives it grant options there and nowhere else. It cannot reach Temporal's or
-- grantflow's data, and a grantee's SECURITY DEFINER function can never end up owned by a superuser.
CREATE ROLE grantflow_demo_admin WITH LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS
  PASSWORD 'demo-admin';
CREATE DATABASE demo OWNER grantflow_demo_admin;
REVOKE CONNECT, TEMPORARY ON DATABASE demo FROM PUBLIC;
GRANT CONNECT ON DATABASE demo TO grantflow_demo_admin;
