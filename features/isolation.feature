Feature: Tenant isolation
  The organization is the tenant: a user sees only their own organization's
  accounts and users (DPaaS API reference, organizations; OWASP API1).

  @must @ACC-1
  Scenario: Every listed account belongs to the caller's organization
    Given the admin user is logged in
    And they have created 1 account
    When they list accounts with "quantity=100"
    Then every account in the list belongs to the organization of the account they created

  @must @ACC-1
  Scenario: Another organization never sees our accounts
    Given the admin user is logged in
    And they have created 1 account
    And the other user is logged in
    When they walk every page of accounts ordered by "created_at", in pages of about a third
    Then none of the items seen is the account the admin user created
    And every item seen belongs to one organization other than the admin user's

  @must @USER-3
  Scenario: Another organization never sees our users
    Given the other user is logged in
    When they walk every page of users ordered by "created_at", in pages of about a third
    Then none of the users seen is the admin user
