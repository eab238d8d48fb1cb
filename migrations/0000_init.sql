CREATE TABLE "contacts" (
	"tenant_id" uuid NOT NULL,
	-- COLLATE "C": cursor keys compare ids bytewise, the same in SQL and in any client (edited by hand).
	"id" text COLLATE "C" NOT NULL,
	"name" text NOT NULL,
	"company" text,
	"title" text,
	"emails" text[],
	"phones" text[],
	"photo_url" text,
	"address" text,
	"websites" text[],
	"twitter" text,
	"url" text,
	"source_updated_at" timestamp(6) with time zone,
	"updated_at" timestamp(6) with time zone NOT NULL,
	"deleted_at" timestamp(6) with time zone,
	CONSTRAINT "contacts_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "ingest_state" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"source_cursor" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"backfill_pages" integer DEFAULT 0 NOT NULL,
	"backfill_contacts" integer DEFAULT 0 NOT NULL,
	"backfill_total" integer,
	"last_run_at" timestamp(6) with time zone,
	"last_success_at" timestamp(6) with time zone,
	"last_error" text,
	"last_error_at" timestamp(6) with time zone
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"crm" text NOT NULL,
	"crm_account_id" text,
	"auth_digest" "bytea" NOT NULL,
	"credentials" text NOT NULL,
	"last_change_at" timestamp(6) with time zone DEFAULT '-infinity' NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"backfill_completed_at" timestamp(6) with time zone,
	"deletions_reflected_at" timestamp(6) with time zone,
	"last_deletion_resync_at" timestamp(6) with time zone,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp(6) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ingest_state" ADD CONSTRAINT "ingest_state_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "contacts_sync_key" ON "contacts" USING btree ("tenant_id","updated_at","id");--> statement-breakpoint
CREATE INDEX "contacts_tombstones" ON "contacts" USING btree ("tenant_id","updated_at") WHERE "contacts"."deleted_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "tenants_auth_digest_key" ON "tenants" USING btree ("auth_digest");--> statement-breakpoint
CREATE UNIQUE INDEX "tenants_crm_account_key" ON "tenants" USING btree ("crm","crm_account_id");