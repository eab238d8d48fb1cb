CREATE TABLE "credentials" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"digest" "bytea" NOT NULL,
	"secret" text NOT NULL,
	"label" text NOT NULL,
	"allows" text[] DEFAULT '{}'::text[] NOT NULL,
	"status" text DEFAULT 'working' NOT NULL,
	"failure" text,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"verified_at" timestamp(6) with time zone,
	"last_used_at" timestamp(6) with time zone,
	"failed_at" timestamp(6) with time zone,
	"deletions_reflected_at" timestamp(6) with time zone,
	"last_deletion_resync_at" timestamp(6) with time zone
);
--> statement-breakpoint
DROP INDEX "tenants_auth_digest_key";--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "credentials_digest_key" ON "credentials" USING btree ("digest");--> statement-breakpoint
CREATE INDEX "credentials_tenant" ON "credentials" USING btree ("tenant_id","created_at");--> statement-breakpoint
-- Each tenant's one credential becomes the first of its credentials, with the tenant's deletion
-- record (a tenant had one Talkdesk copy until now). Its ciphertext is still unbound (v2): it is
-- rewritten bound to its tenant on first use, or by npm run rotate-secret.
INSERT INTO "credentials" ("tenant_id", "digest", "secret", "label", "status", "failure", "created_at", "verified_at", "failed_at", "deletions_reflected_at", "last_deletion_resync_at")
SELECT "id", "auth_digest", "credentials", 'registered before credentials per tenant',
       CASE WHEN "status" = 'credentials_failed' THEN 'failed' ELSE 'working' END,
       CASE WHEN "status" = 'credentials_failed' THEN 'refused by the CRM' END,
       "created_at", "updated_at", CASE WHEN "status" = 'credentials_failed' THEN "updated_at" END,
       "deletions_reflected_at", "last_deletion_resync_at"
FROM "tenants";--> statement-breakpoint
ALTER TABLE "tenants" DROP COLUMN "auth_digest";--> statement-breakpoint
ALTER TABLE "tenants" DROP COLUMN "credentials";--> statement-breakpoint
ALTER TABLE "tenants" DROP COLUMN "deletions_reflected_at";--> statement-breakpoint
ALTER TABLE "tenants" DROP COLUMN "last_deletion_resync_at";