// The seed's JavaScript snippets (shared/seed/000_f2d375f9094309f6.txt), run with the real
// node-appwrite SDK against a live clientbook. The snippets are copied from the seed unchanged,
// TypeScript types stripped; only the client set-up lines are ours, and each Query Patterns
// snippet is wrapped in a function that supplies its free variables. The helpers the seed calls
// without showing (getCustomerByUserId, isValidEmail, findCustomerByEmail, getCustomer,
// auditLogger, lib/customer-utils.ts) are written the obvious way. Exits 0 when every check holds.
//
//   APPWRITE_ENDPOINT=http://127.0.0.1:8000/v1 APPWRITE_PROJECT=clientbook APPWRITE_KEY=cbk_...
//   ADMIN_USER_ID=<a super_admin's id> node seed_snippets.mjs

import assert from 'node:assert/strict';
import { Account, Client, ID, Query, TablesDB, Users } from 'node-appwrite';

// --- client set-up ---------------------------------------------------------------------------

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const client = new Client()
  .setEndpoint(env('APPWRITE_ENDPOINT'))
  .setProject(env('APPWRITE_PROJECT'))
  .setKey(env('APPWRITE_KEY'));
const adminTablesDB = new TablesDB(client);
let tablesDB = adminTablesDB; // the self-service snippets run as the signed-in user
const DATABASE_ID = 'console-db';
const CUSTOMERS_COLLECTION_ID = 'customers';
const USERS_COLLECTION_ID = 'users';
const CUSTOMER_NOTES_COLLECTION_ID = 'customer_notes';
const ADMIN_USER_ID = env('ADMIN_USER_ID');
const RUN = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// --- helpers the seed uses without showing them ----------------------------------------------

async function getCustomerByUserId(userId) {
  const result = await tablesDB.listRows({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    queries: [Query.equal('userId', userId), Query.limit(1)],
  });
  return result.rows[0] ?? null;
}

function isValidEmail(email) {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email);
}

async function findCustomerByEmail(email) {
  const result = await tablesDB.listRows({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    queries: [Query.equal('email', email), Query.limit(1)],
  });
  return result.rows[0] ?? null;
}

async function getCustomer(customerId) {
  try {
    return await tablesDB.getRow({
      databaseId: DATABASE_ID,
      tableId: CUSTOMERS_COLLECTION_ID,
      rowId: customerId,
    });
  } catch (error) {
    if (error.code === 404) return null;
    throw error;
  }
}

const auditCalls = [];
const auditLogger = {
  logCustomerCreated: async (...args) => auditCalls.push(['created', ...args]),
  logCustomerStatusChange: async (...args) => auditCalls.push(['status', ...args]),
};

// lib/customer-utils.ts
function getCustomerTags(metadata) {
  try {
    const tags = JSON.parse(metadata || '{}').tags;
    return Array.isArray(tags) ? tags : [];
  } catch {
    return [];
  }
}

function setCustomerTags(metadata, tags) {
  let parsed = {};
  try {
    parsed = JSON.parse(metadata || '{}');
  } catch {
    parsed = {};
  }
  return JSON.stringify({ ...parsed, tags });
}

function addCustomerTag(metadata, tag) {
  const tags = getCustomerTags(metadata);
  if (!tags.some((t) => t.toLowerCase() === tag.toLowerCase())) tags.push(tag);
  return setCustomerTags(metadata, tags);
}

function removeCustomerTag(metadata, tag) {
  return setCustomerTags(
    metadata,
    getCustomerTags(metadata).filter((t) => t.toLowerCase() !== tag.toLowerCase()),
  );
}

// --- the seed: Business Logic ----------------------------------------------------------------

async function createCustomer(customerData, userId) {
  // Validate required fields
  if (!customerData.name) {
    throw new Error('Customer name is required');
  }
  
  // Check if user already has a customer record
  const existing = await getCustomerByUserId(userId);
  if (existing) {
    throw new Error('Customer record already exists for this user');
  }
  
  // Validate email format if provided
  if (customerData.email && !isValidEmail(customerData.email)) {
    throw new Error('Invalid email format');
  }
  
  // Check for duplicate email
  if (customerData.email) {
    const existingByEmail = await findCustomerByEmail(customerData.email);
    if (existingByEmail) {
      throw new Error('Customer with this email already exists');
    }
  }
  
  // Set defaults - userId must match the authenticated user
  // Use user $id for relationship fields
  const newCustomer = {
    ...customerData,
    userId: userId, // Relationship: Use user $id (must match authenticated user)
    status: customerData.status || 'active',
    customerType: customerData.customerType || 'individual',
    totalRevenue: 0.0,
    totalInvoices: 0,
    assignedTo: customerData.assignedTo, // Relationship: Use user $id (optional)
    createdBy: userId, // Relationship: Use user $id (optional)
  };
  
  const customer = await tablesDB.createRow({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    rowId: ID.unique(),
    data: newCustomer // Note: Use 'data' not 'body' for Tables API
  });
  
  // Log customer creation in audit log
  await auditLogger.logCustomerCreated(userId, customer.$id, customer.name);
  
  return customer;
}

async function updateCustomerStatus(
  customerId,
  newStatus,
  updatedBy,
  reason
) {
  const customer = await getCustomer(customerId);
  
  if (!customer) {
    throw new Error('Customer not found');
  }
  
  await tablesDB.updateRow({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    rowId: customerId,
    data: {
      status: newStatus,
      updatedBy: updatedBy, // Relationship: Use user $id
      metadata: JSON.stringify({
        ...JSON.parse(customer.metadata || '{}'),
        statusChangeReason: reason,
        statusChangedAt: new Date().toISOString(),
        statusChangedBy: updatedBy
      })
    }
  });
  
  // Log status change in audit log
  await auditLogger.logCustomerStatusChange(updatedBy, customerId, customer.status, newStatus, reason);
}

async function updateLastContact(customerId, contactDate) {
  await tablesDB.updateRow({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    rowId: customerId,
    data: {
      lastContactAt: contactDate || new Date().toISOString(),
    }
  });
}

// --- the seed: Query Patterns (each snippet in a function giving its free variables) ---------

async function getCustomerByUserIdPattern(userId) {
// Basic query using relationship field
const customer = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.equal('userId', userId), // Relationship query
    Query.limit(1)
  ]
});

// With relationship population (if supported by your Appwrite version)
// Note: Appwrite Tables API may require separate queries to populate relationships
if (customer.rows.length > 0) {
  const user = await tablesDB.getRow({
    databaseId: DATABASE_ID,
    tableId: USERS_COLLECTION_ID,
    rowId: customer.rows[0].userId
  });
  const customerWithUser = { ...customer.rows[0], userId: user };
  return customerWithUser;
}
}

async function getCustomerByEmailPattern(email) {
const customer = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.equal('email', email),
    Query.limit(1)
  ]
});
return customer;
}

async function getActiveCustomersPattern() {
const activeCustomers = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.equal('status', 'active'),
    Query.orderDesc('lastContactAt'),
    Query.limit(50)
  ]
});
return activeCustomers;
}

async function getCustomersByAssignedUserPattern(userId) {
// Query customers by assigned user relationship
const assignedCustomers = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.equal('assignedTo', userId), // Relationship query
    Query.equal('status', 'active'),
    Query.orderAsc('name')
  ]
});
return assignedCustomers;
}

async function getCustomersByCompanyPattern(companyName) {
const companyCustomers = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.equal('company', companyName),
    Query.orderAsc('name')
  ]
});
return companyCustomers;
}

async function getCustomersNeedingFollowUpPattern() {
const followUpCustomers = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.lessThanEqual('nextFollowUpAt', new Date().toISOString()),
    Query.notEqual('status', 'archived'),
    Query.orderAsc('nextFollowUpAt')
  ]
});
return followUpCustomers;
}

async function searchCustomersPattern(searchTerm) {
// Note: Appwrite doesn't support OR queries directly, so we need to search separately
const nameResults = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.search('name', searchTerm),
    Query.limit(25)
  ]
});

const emailResults = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.search('email', searchTerm),
    Query.limit(25)
  ]
});

// Combine and deduplicate results
const allResults = [...nameResults.rows, ...emailResults.rows];
const uniqueResults = Array.from(new Map(allResults.map(c => [c.$id, c])).values());
return uniqueResults;
}

async function getTopRevenueCustomersPattern() {
const topCustomers = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  queries: [
    Query.greaterThan('totalRevenue', 0),
    Query.orderDesc('totalRevenue'),
    Query.limit(10)
  ]
});
return topCustomers;
}

// --- the seed: Appwrite Relationship Usage ---------------------------------------------------

async function creatingCustomersWithRelationships(user, adminUser, currentUser) {
const customer = await tablesDB.createRow({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  rowId: ID.unique(),
  data: {
    userId: user.$id, // Use user $id for relationship (required, unique)
    name: 'John Doe',
    assignedTo: adminUser.$id, // Use user $id for relationship (optional)
    createdBy: currentUser.$id, // Use user $id for relationship (optional)
    // ... other fields
  }
});
return customer;
}

async function accessingRelatedCollections(customer) {
// Get all notes for a customer (using relationship)
const notes = await tablesDB.listRows({
  databaseId: DATABASE_ID,
  tableId: CUSTOMER_NOTES_COLLECTION_ID,
  queries: [
    Query.equal('customerId', customer.$id) // Relationship query
  ]
});
return notes;
}

async function tagsUsageExample(customer) {
// Get tags from customer metadata
const tags = getCustomerTags(customer.metadata); // Returns: ["vip", "enterprise"]

// Set tags in metadata
const updatedMetadata = setCustomerTags(customer.metadata, ["vip", "enterprise", "priority"]);

// Update customer with new tags
await tablesDB.updateRow({
  databaseId: DATABASE_ID,
  tableId: CUSTOMERS_COLLECTION_ID,
  rowId: customer.$id,
  data: {
    metadata: updatedMetadata
  }
});
return tags;
}

// --- the run ---------------------------------------------------------------------------------

async function newUser(name) {
  const email = `${name.toLowerCase().replace(/\W+/g, '.')}.${RUN}@example.com`;
  const password = 'a long enough password';
  const user = await new Users(client).create({ userId: ID.unique(), email, password, name });
  return { user, email, password };
}

async function signedInTablesDB(email, password) {
  // Server-side sign-in: the API key's client creates the session and gets its secret.
  const session = await new Account(client).createEmailPasswordSession({ email, password });
  assert.ok(session.secret, 'a session created with an API key returns its secret');
  const userClient = new Client()
    .setEndpoint(env('APPWRITE_ENDPOINT'))
    .setProject(env('APPWRITE_PROJECT'))
    .setSession(session.secret);
  return new TablesDB(userClient);
}

async function main() {
  const company = `Node Trading ${RUN}`;
  const { user: mei, email: meiEmail, password } = await newUser('Tan Mei Ling');

  // Self-service: the user creates their own record.
  tablesDB = await signedInTablesDB(meiEmail, password);
  const customer = await createCustomer(
    { name: 'Tan Mei Ling', email: meiEmail, company, phone: '+60 12-345 6789' },
    mei.$id,
  );
  assert.equal(customer.userId, mei.$id);
  assert.equal(customer.createdBy, mei.$id);
  assert.equal(customer.status, 'active');
  assert.equal(typeof customer.$sequence, 'string');
  await assert.rejects(createCustomer({ name: 'Again' }, mei.$id), /already exists/);
  const own = await getCustomerByUserIdPattern(mei.$id);
  assert.equal(own.$id, customer.$id);
  assert.equal(own.userId.$id, mei.$id);
  tablesDB = adminTablesDB;

  // Staff work through the API key.
  await updateCustomerStatus(customer.$id, 'prospect', ADMIN_USER_ID, 'Qualified on call');
  let row = await getCustomer(customer.$id);
  assert.equal(row.status, 'prospect');
  assert.equal(row.updatedBy, ADMIN_USER_ID);
  assert.equal(JSON.parse(row.metadata).statusChangeReason, 'Qualified on call');
  await updateCustomerStatus(customer.$id, 'active', ADMIN_USER_ID);
  await updateLastContact(customer.$id);
  row = await getCustomer(customer.$id);
  assert.ok(row.lastContactAt);
  await updateLastContact(customer.$id, '2025-01-15T09:30:00.000Z');
  row = await getCustomer(customer.$id);
  assert.equal(row.lastContactAt, '2025-01-15T09:30:00.000+00:00');
  assert.equal(auditCalls.length, 3);

  // Tags: the helpers and the seed's usage example.
  await tablesDB.updateRow({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    rowId: customer.$id,
    data: { metadata: setCustomerTags(row.metadata, ['vip', 'enterprise']) },
  });
  assert.deepEqual(await tagsUsageExample(await getCustomer(customer.$id)), ['vip', 'enterprise']);
  row = await getCustomer(customer.$id);
  assert.deepEqual(getCustomerTags(row.metadata), ['vip', 'enterprise', 'priority']);
  const fewer = removeCustomerTag(addCustomerTag(row.metadata, 'VIP'), 'enterprise');
  assert.deepEqual(getCustomerTags(fewer), ['vip', 'priority']);

  // Query Patterns.
  assert.equal((await getCustomerByEmailPattern(meiEmail.toUpperCase())).rows[0].$id, customer.$id);
  const active = await getActiveCustomersPattern();
  assert.ok(active.rows.length > 0 && active.rows.length <= 50);
  assert.ok(active.rows.every((c) => c.status === 'active'));
  const { user: lim } = await newUser('Lim Wei');
  const assigned = await creatingCustomersWithRelationships(lim, { $id: ADMIN_USER_ID }, { $id: ADMIN_USER_ID });
  assert.equal(assigned.createdBy, ADMIN_USER_ID);
  await tablesDB.updateRow({
    databaseId: DATABASE_ID,
    tableId: CUSTOMERS_COLLECTION_ID,
    rowId: assigned.$id,
    data: { company, nextFollowUpAt: '2025-01-01T00:00:00Z', totalRevenue: 2500 },
  });
  const byRep = await getCustomersByAssignedUserPattern(ADMIN_USER_ID);
  assert.ok(byRep.rows.some((c) => c.$id === assigned.$id));
  const names = byRep.rows.map((c) => c.name);
  assert.deepEqual(names, [...names].sort());
  const byCompany = await getCustomersByCompanyPattern(company);
  assert.deepEqual(byCompany.rows.map((c) => c.name), ['John Doe', 'Tan Mei Ling']);
  const due = await getCustomersNeedingFollowUpPattern();
  assert.ok(due.rows.every((c) => c.nextFollowUpAt !== null && c.status !== 'archived'));
  const found = await searchCustomersPattern(RUN);
  // The search covers name, email, phone and company: both records of the run's company.
  assert.deepEqual(found.map((c) => c.$id).sort(), [customer.$id, assigned.$id].sort());
  const top = await getTopRevenueCustomersPattern();
  assert.ok(top.rows.length >= 1 && top.rows.every((c) => c.totalRevenue > 0));

  // Accessing related collections.
  await tablesDB.createRow({
    databaseId: DATABASE_ID,
    tableId: CUSTOMER_NOTES_COLLECTION_ID,
    rowId: ID.unique(),
    data: { customerId: customer.$id, content: 'Prefers WhatsApp', isPinned: true },
  });
  const notes = await accessingRelatedCollections(customer);
  assert.equal(notes.total, 1);

  // Errors arrive as AppwriteException with Appwrite's types.
  await assert.rejects(
    tablesDB.getRow({ databaseId: DATABASE_ID, tableId: CUSTOMERS_COLLECTION_ID, rowId: ID.unique() }),
    (error) => error.code === 404 && error.type === 'row_not_found',
  );
  await tablesDB.deleteRow({ databaseId: DATABASE_ID, tableId: CUSTOMERS_COLLECTION_ID, rowId: assigned.$id });
  console.log('seed snippets: all checks passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
