CREATE TABLE "contact_history" (
	"tenant_id" uuid NOT NULL,
	-- COLLATE "C" like contacts.id, which its rows are copied from (edited by hand).
	"contact_id" text COLLATE "C" NOT NULL,
	"at" timestamp(6) with time zone NOT NULL,
	"source" text NOT NULL,
	"fields" integer NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
ALTER TABLE "contacts" ADD COLUMN "versions" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "handed_out_us" bigint;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "handed_out_id" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "confirmed_us" bigint;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "confirmed_id" text;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "deletions_confirmed_us" bigint;--> statement-breakpoint
ALTER TABLE "credentials" ADD COLUMN "last_sync_at" timestamp(6) with time zone;--> statement-breakpoint
CREATE INDEX "contact_history_contact" ON "contact_history" USING btree ("tenant_id","contact_id");--> statement-breakpoint
CREATE INDEX "contact_history_at" ON "contact_history" USING brin ("at");