-- 0001_init: written by cloesce from the model files. Do not edit: 0001_init.json records its hash.
-- Changes:
--   model Dog added
--   model Owner added
--   data source view Dog_withOwner added
--   data source view Owner_withDogs added
CREATE TABLE "Owner" ( "id" integer PRIMARY KEY, "name" text NOT NULL, "phone" text );
CREATE TABLE "Dog" ( "id" integer PRIMARY KEY, "name" text NOT NULL, "ownerId" integer NOT NULL, FOREIGN KEY ("ownerId") REFERENCES "Owner" ("id") ON DELETE RESTRICT ON UPDATE CASCADE );
CREATE VIEW "Dog_withOwner" AS SELECT "Dog"."id" AS "Dog_id", "Dog"."name" AS "Dog_name", "Dog"."ownerId" AS "Dog_ownerId", "Owner"."id" AS "Owner_id", "Owner"."name" AS "Owner_name", "Owner"."phone" AS "Owner_phone", "Dog_1"."id" AS "Dog_1_id", "Dog_1"."name" AS "Dog_1_name", "Dog_1"."ownerId" AS "Dog_1_ownerId" FROM "Dog" LEFT JOIN "Owner" ON "Dog"."ownerId" = "Owner"."id" LEFT JOIN "Dog" AS "Dog_1" ON "Owner"."id" = "Dog_1"."ownerId";
CREATE VIEW "Owner_withDogs" AS SELECT "Owner"."id" AS "Owner_id", "Owner"."name" AS "Owner_name", "Owner"."phone" AS "Owner_phone", "Dog"."id" AS "Dog_id", "Dog"."name" AS "Dog_name", "Dog"."ownerId" AS "Dog_ownerId" FROM "Owner" LEFT JOIN "Dog" ON "Owner"."id" = "Dog"."ownerId";
