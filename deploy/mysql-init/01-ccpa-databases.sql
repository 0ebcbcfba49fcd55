-- Runs once, when the MariaDB/MySQL data volume is first initialised (docker-entrypoint-initdb.d).
-- The image's entrypoint has already created the user `ccpa` (MARIADB_USER) with every privilege on
-- ccpa_compliance (MARIADB_DATABASE): the compliance store creates its own tables on first use.
CREATE DATABASE IF NOT EXISTS ccpa_compliance CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- The demo datastores (crm_users, orders, web_events): seeded by the `ccpa-demo-seed` service (demo profile)
-- as root; the application only ever reads them.
CREATE DATABASE IF NOT EXISTS ccpa_demo CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
GRANT SELECT ON ccpa_demo.* TO 'ccpa'@'%';
FLUSH PRIVILEGES;
