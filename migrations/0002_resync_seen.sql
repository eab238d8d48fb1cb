CREATE TABLE "resync_seen" (
	"tenant_id" uuid NOT NULL,
	-- COLLATE "C" like contacts.id, so the anti-join at the end of a resync can use both keys (edited by hand).
	"id" text COLLATE "C" NOT NULL,
	CONSTRAINT "resync_seen_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
ALTER TABLE "resync_seen" ADD CONSTRAINT "resync_seen_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;