Feature: Service accounts
  Machine clients act as service accounts (DPaaS API reference, Service Accounts). Each belongs
  to one account of an organization; users create and list them with their bearer tokens. A
  service account object never carries key material. The suite deactivates the service accounts
  it creates when each scenario ends, where the target allows.

  @must @SA-3
  Scenario: A service account is created active, never used, in the caller's organization, and listed
    Given the admin user is logged in
    When they create a service account for an account of their organization
    Then the response status is a success
    And the response body is a new service account of their organization, active and never used
    And the service account is in the list of service accounts

  @should @SA-3
  Scenario: Creating a service account answers 201
    Given the admin user is logged in
    When they create a service account for an account of their organization
    Then the response status is 201

  @must @SA-4
  Scenario Outline: A service account with <what> is refused with 422 naming "<field>"
    Given the admin user is logged in
    When they create a service account with <what>
    Then the response is a "ValidationError" error with status 422
    And the error details name "<field>"

    Examples:
      | what                                | field      |
      | no name                             | name       |
      | a name that is a number             | name       |
      | no account_id                       | account_id |
      | an account_id that is a number      | account_id |

  @must @SA-4
  Scenario Outline: A service account for <whose> is refused, and none is made for it
    Given the other user is logged in
    And they have created 1 account
    And the admin user is logged in
    When they create a service account for <whose>
    Then the response is a 422 naming "account_id", or a 404
    And no service account of that account is listed, by either organization

    Examples:
      | whose                                    |
      | the account the other user created       |
      | an account id that never existed         |

  @must @SA-1
  Scenario: The service accounts are a list whose items have every field of a service account
    Given the admin user is logged in
    And they have created 2 service accounts
    When they list the service accounts
    Then the response status is 200
    And the response body is a list of service accounts
    And the service accounts they created are listed newest first

  @must @SA-1
  Scenario Outline: Walking the service accounts ordered by "<order>" shows each, in order
    Given the admin user is logged in
    And they have created 3 service accounts
    When they walk every page of the service accounts ordered by "<order>"
    Then every service account they created was seen, ordered by "<order>"

    Examples:
      | order       |
      | created_at  |
      | -name       |

  @must @SA-2
  Scenario: Listing the service accounts of one account shows exactly that account's
    Given the admin user is logged in
    And they have created 1 account
    And they have created 2 service accounts for that account
    And they have created 1 service account
    When they list the service accounts of that account
    Then the list holds exactly the service accounts of that account, and its total is theirs

  @must @SA-5
  Scenario: A service account object carries no key material
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they read the service account, and list the service accounts
    Then no service account object in those answers carries key material

  @must @SA-6
  Scenario: A service account is read by its id
    Given the admin user is logged in
    And they have created 1 service account
    When they read the service account
    Then the response status is 200
    And the service account read is the one they created

  @must @SA-6 @ERR-7
  Scenario: Another organization's service account is never read
    Given the other user is logged in
    And they have created 1 service account
    And the admin user is logged in
    When they read the service account the other user created
    Then the response is a client error with a JSON error body
    And the answer carries no field of the service account the other user created
    And the other user reads the service account they created unchanged

  @should @SA-6
  Scenario: Another organization's service account is answered as an id that never existed
    Given the other user is logged in
    And they have created 1 service account
    And the admin user is logged in
    When they read the service account the other user created, and an id of its shape that never existed
    Then both answers have the same status, error and header names

  @must @ERR-7 @SA-6
  Scenario: A service account id that never existed gets a JSON error, never a server error
    Given the admin user is logged in
    And they have created 1 service account
    When they read a service account id that never existed
    Then the response is a client error with a JSON error body

  @must @SA-7
  Scenario: A deactivated or deleted service account's keys stop at once
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    And a request signed with that key is authenticated
    When they deactivate the service account
    And they send a request signed with that key
    Then the response status is 401

  @should @SA-7
  Scenario: A deactivated service account is listed only with include_inactive=true
    Given the admin user is logged in
    And they have created 1 service account
    When they deactivate the service account
    Then the default list of service accounts leaves it out
    And the list with "include_inactive=true" shows it

  @must @ERR-5 @SA-3
  Scenario Outline: After a service account with <value> is accepted or refused, every list and get still reads
    Given the admin user is logged in
    When they create a service account with <value>
    Then the response is a success or a client error with a JSON error body, never a server error
    And every page of the service accounts, and each one created, still reads as valid JSON for every principal of the organization

    Examples:
      | value                                  |
      | metadata nested 100 levels deep        |
      | metadata holding the number 1e999      |
      | a name with a lone surrogate escape    |
      | a description of 100000 characters     |
      | a name of zero-width and RTL characters |
